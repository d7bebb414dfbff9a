"""Edge policy logic the gateway's edge stages use: the rules language, managed WAF rules, rate limiters,
identity (JWT), geo, bot scoring and the HTTP cache. No ASGI here: the stages in ``gateway/stages`` adapt it."""
