"""Finding the passages that answer a question: text analysis, the two matching stages and their cache, evaluation."""
