"""Serving: the OpenAI-compatible app (`app`), the generation engine (`engine`) and the request log (`log`)."""
