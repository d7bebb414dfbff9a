"""Control plane: the state store, the admin API and the service that applies changes to the runtime."""
