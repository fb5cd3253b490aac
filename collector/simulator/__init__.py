"""A simulated production line for demos and tests.

`line.Line` is the pure, seeded model (numpy only); `opcua_server`, `mqtt_publisher` and
`sparkplug_publisher` expose it over the wire; `runner` paces it in real time; `cli` adds the
`linewatch simulate` and `linewatch browse` commands. Nothing here is imported by the collector
itself: the simulator plays the equipment.
"""
