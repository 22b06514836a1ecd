"""Base models, tokenizers and chat templates: loading, the offline tiny model, GGUF import, and the chat-template
helpers (chat.py) that training, evaluation, serving and `data inspect` share."""
