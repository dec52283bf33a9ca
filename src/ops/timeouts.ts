/** How long an operator command waits for a dependency (Kafka, Redis, Connect, the search engine) before it gives up, ms. */
export const COMMAND_TIMEOUT_MS = 10_000;
