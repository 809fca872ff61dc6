import sys

from finops_bot.agent.finops_agent import main

sys.exit(main())
