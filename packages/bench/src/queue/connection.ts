/**
 * Redis connections for the BullMQ queue: parsed from --queue redis://[user:password@]host:port[/db]
 * (rediss:// for TLS), checked before use. A password is used, never printed: every message
 * shows the URL with its password replaced by ***.
 */
import { UsageError } from '@policy-lab/core';
import { Redis, type RedisOptions } from 'ioredis';

export const QUEUE_NAME = 'policy-lab-units';
const ACCEPTED = 'accepted redis://[user:password@]host[:port][/db] or rediss://... (TLS)';

export interface QueueConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL as it may be shown: the password replaced by ***. */
  url: string;
}

/** The text with the user-info part after its first ':' (or all of it, when it has no ':') replaced by ***. */
export function redactUrl(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const start = text.includes('//') ? text.indexOf('//') + 2 : 0;
  const colon = text.indexOf(':', start);
  return colon >= 0 && colon < at
    ? `${text.slice(0, colon + 1)}***${text.slice(at)}`
    : `${text.slice(0, start)}***${text.slice(at)}`;
}

export function parseQueueUrl(text: string): QueueConnection {
  const shown = redactUrl(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`bad --queue '${shown}': ${ACCEPTED}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new UsageError(`bad --queue '${shown}': ${ACCEPTED}`);
  const port = url.port ? Number(url.port) : 6379;
  const dbText = url.pathname && url.pathname !== '/' ? url.pathname.slice(1) : '0';
  if (!/^\d+$/.test(dbText))
    throw new UsageError(`bad --queue '${shown}': the database must be an integer from 0, got '${dbText}'`);
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError(`bad --queue '${shown}': the user or password is not URL-encoded`);
    }
  };
  return {
    host: url.hostname,
    port,
    db: Number(dbText),
    ...(url.username ? { username: decode(url.username) } : {}),
    ...(url.password ? { password: decode(url.password) } : {}),
    tls: url.protocol === 'rediss:',
    url: shown,
  };
}

/** ioredis / BullMQ connection options; workers need maxRetriesPerRequest null. */
export function connectionOptions(connection: QueueConnection): RedisOptions {
  return {
    host: connection.host,
    port: connection.port,
    db: connection.db,
    ...(connection.username ? { username: connection.username } : {}),
    ...(connection.password ? { password: connection.password } : {}),
    ...(connection.tls ? { tls: { servername: connection.host } } : {}),
    maxRetriesPerRequest: null,
  };
}

/** Errors that no retry can cure: a wrong password or database, a server without BullMQ's commands. */
export function isFatalRedisError(error: Error): boolean {
  return /NOAUTH|WRONGPASS|NOPERM|DB index is out of range|invalid DB index|ERR unknown command/i.test(error.message);
}

/** Fails fast (exit 2, one line) when Redis cannot be reached, refuses the password, or has no such database. */
export async function checkReachable(connection: QueueConnection, timeoutMs = 3000): Promise<void> {
  const client = new Redis({
    ...connectionOptions(connection),
    // SELECT is sent by hand below, so that a bad index is one clear error and not a reconnect loop.
    db: 0,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      const reason = (lastError ?? (error as Error)).message;
      throw new UsageError(`cannot reach Redis at ${connection.url} (${reason}); start redis-server there or fix --queue`);
    }
    if (connection.db !== 0) {
      try {
        await client.select(connection.db);
      } catch (error) {
        throw new UsageError(
          `bad --queue '${connection.url}': Redis refuses database ${connection.db} (${(error as Error).message})`,
        );
      }
    }
  } finally {
    client.disconnect();
  }
}
