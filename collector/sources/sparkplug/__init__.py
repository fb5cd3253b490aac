"""Sparkplug B over MQTT.

`sparkplug_b_pb2` is generated from Eclipse Tahu's `sparkplug_b.proto` (kept next to it);
`payload` decodes metrics, `nodes` tracks births, aliases and sequence numbers per edge node.
"""
