import sys

from sentiment_client.cli import main

sys.exit(main())
