"""One module per output format; `bot.formats` picks one by name."""
