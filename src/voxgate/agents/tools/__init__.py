"""Tools an agent can call: :mod:`.runner` (definitions, context, the runner), :mod:`.builtin`
(end_call, transfer_to_human, search_knowledge and the set every agent picks from),
:mod:`.bookings` (restaurant bookings) and :mod:`.webhook` (HTTP endpoints)."""
