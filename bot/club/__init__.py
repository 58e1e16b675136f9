"""Club features: daily quotation posts, the quiz, times of day and whether the bot can post in a channel."""
