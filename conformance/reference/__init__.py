"""The reference implementation of the RealtimeKit meeting API: the suite's embedded default target.

Split by concern (read in this order):
  clock.py      one injectable clock + the timer scheduler everything time-dependent uses
  storage.py    SQLite persistence (a file or in-memory), one table per resource
  auth.py       bearer API tokens scoped to one account and app
  validation.py request validation against openapi/realtimekit.yaml itself
  sessions.py   the meeting/session state machine: join, leave, kick, end, timers
  hub.py        the realtime WebSocket protocol (openapi/realtime-protocol.md)
  ws_protocol.py uvicorn's WebSocket protocol plus writing a frame at once (the kick-all fan-out)
  webhooks.py   signed webhook delivery through a durable outbox
  recordings.py recording lifecycle
  preset_defaults.py  a whole Cloudflare preset (config, permissions, ui) from any part of one
  routes.py     the REST routes, answering inside Cloudflare's own schemas
  throttle.py   RealtimeKit's REST rate limit, opt-in (`conformance serve --requests-per-10s`)
  app.py        wires it all into one Starlette app
  server.py     runs it (uvicorn), in a thread or as `conformance serve`
  faults/       deliberately broken behaviours, swapped in from outside (kept apart on purpose)
"""
