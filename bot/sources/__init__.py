"""The sources as data: the validated corpus, Maisky's own quotations and the timeline of dated passages."""
