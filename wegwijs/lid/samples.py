"""Hand-written chat messages for checking the LID rules (never used for training).

* :data:`ARABIZI`: Arabic chat in Latin letters (Levantine, Egyptian, Gulf, Iraqi,
  Maghrebi), with and without digits, with Dutch words — must come out ``ar``.
* :data:`LATIN_NOT_ARABIZI`: Dutch, English, Turkish, Somali, French and Kurmanji chat
  with digits, ages, Islamic greetings and Arabic loanwords — must not come out ``ar``.
* :data:`MIXED_SCRIPT`: non-Latin chat with Dutch words in Latin letters — must come
  out in the non-Latin language, never ``nl``.
* :data:`DARI_PERSIAN`: chat where Dari and Iranian vocabulary differ.

Written by the development team for the report and the tests; small on purpose. The
held-out FLORES and NLU text in the report is the main measure.
"""

from __future__ import annotations

#: Arabizi messages (all ``ar``).
ARABIZI: tuple[str, ...] = (
    "kifak, ibni 3ando 7arara",
    "ana mesh fahem",
    "wallah ibni ma bi7eb el madrase",
    "shu 3am ta3mel ya habibi",
    "ana msh fahma eh el mawdoo3",
    "ibni mareed w 3ando so5neh",
    "binti ma bti7ki holandi mnih",
    "ana 3ayza a3raf emta el madrasa btebda2",
    "el mudarrisa 2alet en ibni bi3mel mashakel",
    "ana kteer ta3ban w ma ba3ref shu a3mel",
    "law sama7t bdi a7ki ma3 7ada",
    "ibni 3omro 6 snin",
    "salam 3alaykom, kif el 7al",
    "ana men souria w sakne b Amersfoort",
    "ana mesh 3aref a3mel eh",
    "el awlad mabsoutin bel madrase",
    "3andi so2al 3an el school",
    "shukran kteer 3ala el mosa3ade",
    "enta betkallem 3arabi?",
    "ana mish fahma el gemeente",
    "ibni bi5af yrou7 3al madrase",
    "ma 3am ynam bel leil",
    "fi 7ada yi7ki 3arabi hon",
    "shlonak, ani 3indi su2al",
    "ana ma a3rif wein el huisarts",
    "binti 3endha wja3 bi batna",
    "ya3ni shu lazem a3mel halla2",
    "inshallah kheir",
    "mafi mushkile habibi",
    "3ayez a7jez maw3ed 3and el huisarts",
    "momken ta3tini ra2am el klantmanager",
    "el walad ta3ban men embare7",
    "zawji bidrobni w ana khayfe",
    "ibni ma bido yrou7 3al school",
    "ana ma ba3ref kif a7ki ma3 el juf",
    "enti fahmeh 3alay?",
    "alhamdulillah ibni a7san el yom",
    "3ando 7ararah men embare7 bel leil",
    "wen el consultatiebureau b Utrecht",
    "ana 7amel w bdi doctor",
    "ma3lesh, mumkin te3idi",
    "ezayak, ana 3ayez as2al 3an el madrasa",
    "ana 3andi talat wlad",
    "bidi musa3ade ma3 el toeslagen",
    "el madrase ba3tatli risale w ma fhemt shi",
    "ibni bi3ayet kteer bel leil",
    "shou lazem a3mel iza binti mareeda",
    "wallahi ana ta3banah",
    "baddi a7ki ma3 7ada bil 3arabi",
    "ibni 3amel mashakel bel saf",
)

#: Latin-script chat in other languages that must not be taken for Arabizi.
LATIN_NOT_ARABIZI: tuple[tuple[str, str], ...] = (
    ("mijn zoon is 7 jaar en hij is ziek", "nl"),
    ("ik heb 3 kinderen van 2, 5 en 9", "nl"),
    ("mijn 6jarige zoon wil niet naar school", "nl"),
    ("afspraak om 9 uur bij de huisarts", "nl"),
    ("wallah ik weet het niet meer", "nl"),
    ("salam, ik heb een vraag over school", "nl"),
    ("inshallah komt alles goed met mijn dochter", "nl"),
    ("ma is ziek en papa werkt", "nl"),
    ("mijn dochter zit in groep 3", "nl"),
    ("I have 2 kids, 3 and 7", "en"),
    ("my son is 5yo and has a fever", "en"),
    ("see you 2morrow at school", "en"),
    ("my 2nd son goes to school at 8:30", "en"),
    ("he is in grade 5 now", "en"),
    ("oğlum 3 yaşında ve ateşi var", "tr"),
    ("ana okulu için kayıt yaptırmak istiyorum", "tr"),
    ("tamam hocam çok teşekkürler", "tr"),
    ("kızım 5 yaşında okula gitmek istemiyor", "tr"),
    ("hala ateşi var ne yapmalıyım", "tr"),
    ("ana baba olarak ne yapabiliriz", "tr"),
    ("cocugum 2 gundur hasta", "tr"),
    ("wiilkeygu waa 7 sano jir", "so"),
    ("inta aan la hadlin dhakhtarka", "so"),
    ("gabadhaydu waa xanuunsan tahay", "so"),
    ("waxaan rabaa inaan la hadlo qof", "so"),
    ("hada ma joogo guriga", "so"),
    ("wallaahi ma garanayo waxaan sameeyo", "so"),
    ("ilmaha waxay dhigtaan fasalka 3aad", "so"),
    ("mon fils a 3 ans et il est malade", "fr"),
    ("kurê min 5 salî ye", "kmr"),
)

#: Non-Latin chat with Dutch words: (text, expected language).
MIXED_SCRIPT: tuple[tuple[str, str], ...] = (
    ("ኣብ gemeente Amersfoort እየ ዘለኹ", "ti"),
    ("ወደይ ናብ school ኣይከደን", "ti"),
    ("huisarts ክረክብ ደልየ", "ti"),
    ("ጓለይ ኣብ consultatiebureau ቆጸራ ኣለዋ", "ti"),
    ("ልጄ school መሄድ አይፈልግም", "am"),
    ("ከ huisarts ጋር ቀጠሮ እፈልጋለሁ", "am"),
    ("ابني في school ما بدو", "ar"),
    ("عندي موعد مع huisarts بكرا", "ar"),
    ("الgemeente بعتتلي رسالة ما فهمتها", "ar"),
    ("بدي احكي مع klantmanager تبعي", "ar"),
    ("پسرم به school نمیره", "fa"),
    ("از gemeente نامه اومده", "fa"),
    ("بچیم مکتب نمیره juf گفت", "prs"),
    ("قد klantmanager خود گپ زده میتانم", "prs"),
    ("زما زوی school ته نه ځي", "ps"),
    ("د huisarts سره وخت غواړم", "ps"),
    ("мій син не хоче йти в school", "uk"),
    ("мой сын не ходит в school", "ru"),
)

#: Persian and Dari chat that differs in vocabulary: (text, expected language).
DARI_PERSIAN: tuple[tuple[str, str], ...] = (
    ("بچیم مریض است باید داکتر ببرمش", "prs"),
    ("مه نمیفامم چی کنم", "prs"),
    ("طفلم به مکتب نمیره", "prs"),
    ("شفاخانه کجا است", "prs"),
    ("خوب استم تشکر", "prs"),
    ("میخایم قد یک نفر گپ بزنم", "prs"),
    ("پسرم مریضه باید ببرمش دکتر", "fa"),
    ("من نمیدونم چیکار کنم", "fa"),
    ("دخترم مدرسه نمیره", "fa"),
    ("بیمارستان کجاست", "fa"),
    ("خوبم مرسی شما خوب هستید", "fa"),
    ("میخوام با یه نفر صحبت کنم", "fa"),
)
