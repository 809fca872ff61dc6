"""The node agent (one file, stdlib + nvidia-ml-py): python -m finops_bot.agent ..."""
