"""Custom Rasa graph components of Wegwijs (referenced as ``bot.components.<module>.<Class>``).

Pipeline order (config.yml): FastTextLanguageIdentifier → MultilingualSpacyTokenizer →
featurizers → DIETClassifier → FallbackClassifier → SafetyKeywordClassifier.
"""
