"""HTTP API: one router module per resource in `routes`, schemas in `schemas`, dependencies in
`deps` (`CurrentUser`, `RequireRole("engineer")`, `Store`, `Ctx`)."""
