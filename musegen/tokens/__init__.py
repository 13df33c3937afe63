"""The miditok tokenizer with condition tokens, and the grammar masks that keep sampling musical."""

__all__ = ["grammar", "tokenizer"]
