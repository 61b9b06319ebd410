"""`python -m redis_consumer`: run as CONSUMER_CMD inside a null-worker container."""

import sys

from redis_consumer.app import main

sys.exit(main())
