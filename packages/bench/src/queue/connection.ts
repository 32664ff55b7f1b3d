/** Redis connections for the BullMQ queue: parsed from --queue redis://host:port, checked before use. */
import { UsageError } from '@policy-lab/core';
import { Redis } from 'ioredis';

export const QUEUE_NAME = 'policy-lab-units';

export interface QueueConnection {
  host: string;
  port: number;
  db: number;
  url: string;
}

export function parseQueueUrl(text: string): QueueConnection {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`bad --queue '${text}': expected redis://host:port`);
  }
  if (url.protocol !== 'redis:') throw new UsageError(`bad --queue '${text}': only redis://host:port is supported`);
  const port = url.port ? Number(url.port) : 6379;
  const db = url.pathname && url.pathname !== '/' ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db)) throw new UsageError(`bad --queue '${text}': the database must be a number`);
  return { host: url.hostname, port, db, url: text };
}

/** BullMQ connection options; workers need maxRetriesPerRequest null. */
export function connectionOptions(connection: QueueConnection): Record<string, unknown> {
  return { host: connection.host, port: connection.port, db: connection.db, maxRetriesPerRequest: null };
}

/** Fails fast (exit 2, one line) when Redis cannot be reached. */
export async function checkReachable(connection: QueueConnection, timeoutMs = 3000): Promise<void> {
  const client = new Redis({
    host: connection.host,
    port: connection.port,
    db: connection.db,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new UsageError(
      `cannot reach Redis at ${connection.url} (${(error as Error).message}); start redis-server there or fix --queue`,
    );
  } finally {
    client.disconnect();
  }
}
