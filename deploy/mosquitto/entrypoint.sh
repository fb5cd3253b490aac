#!/bin/sh
# Builds the password file from the secrets in the environment, then runs the broker.
set -eu
: > /mosquitto/config/passwd
mosquitto_passwd -b /mosquitto/config/passwd collector "$MQTT_COLLECTOR_PASSWORD"
mosquitto_passwd -b /mosquitto/config/passwd simulator "$MQTT_SIMULATOR_PASSWORD"
mosquitto_passwd -b /mosquitto/config/passwd service "$MQTT_SERVICE_PASSWORD"
exec mosquitto -c /mosquitto/config/mosquitto.conf
