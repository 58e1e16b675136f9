"""Curating sources: reading documents, finding quotations and their speakers, drafting seeds/ files."""
