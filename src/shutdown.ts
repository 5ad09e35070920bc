/** SIGTERM/SIGINT: stop taking work, let deliveries in flight finish (or release them), then exit. */
export function shutdownOn(close: () => Promise<void>, log: { info: (o: object, m: string) => void }): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing deliveries in flight');
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
