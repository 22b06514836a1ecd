"""Training data written by a teacher model (issue 27, docs/data.md "Generated data", docs/vendors.md).

`generate` drafts examples with an OpenAI-compatible teacher: from the passages of the document index (grounded
questions and near-domain refusals, each naming its passage), or from prompts (the teacher's answers become the
targets: distillation from a model you are leaving). Every draft is tagged `generated` and `needs_review`, so
`prepare` refuses it until a person has reviewed it (data/unreviewed.py).
"""

from tunesmith.config.generate import SOURCES, Source
from tunesmith.generate.run import GenerateResult, generate
from tunesmith.generate.teacher import Answer, Request, Teacher, parse_json

__all__ = ["SOURCES", "Answer", "GenerateResult", "Request", "Source", "Teacher", "generate", "parse_json"]
