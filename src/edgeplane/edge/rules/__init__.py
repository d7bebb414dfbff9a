"""The rules language of edgeplane's WAF and of every ``match`` expression in the edge config (cache policies,
rate limits, access policies): a subset of Cloudflare's Rules language, compiled to one Python function per rule.

    >>> rule = compile_expression('http.request.uri.path contains "/admin" and not edgeplane.user.mfa')
    >>> rule(request)  # an EdgeRequest
    False

``compile_expression`` raises ``RuleSyntaxError`` (``.column``, ``.message``) on any mistake, when the config
loads; ``fields_used`` tells which fields an expression reads, to compare with ``BODY_FIELDS``,
``IDENTITY_FIELDS`` and ``BOT_FIELDS``. ``FIELDS`` and ``FUNCTIONS`` list the language's fields and functions.
"""

from edgeplane.edge.rules.compile import FirstMatch, Predicate, compile_expression, compile_first_match, fields_used
from edgeplane.edge.rules.errors import RuleSyntaxError
from edgeplane.edge.rules.fields import BODY_FIELDS, BOT_FIELDS, FIELDS, FUNCTIONS, IDENTITY_FIELDS

__all__ = [
    "BODY_FIELDS",
    "BOT_FIELDS",
    "FIELDS",
    "FUNCTIONS",
    "IDENTITY_FIELDS",
    "FirstMatch",
    "Predicate",
    "RuleSyntaxError",
    "compile_expression",
    "compile_first_match",
    "fields_used",
]
