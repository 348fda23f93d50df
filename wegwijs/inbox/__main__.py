"""``python -m wegwijs.inbox``: serve the inbox (see :func:`wegwijs.inbox.app.main`)."""

import sys

from wegwijs.inbox.app import main

sys.exit(main())
