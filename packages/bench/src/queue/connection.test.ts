import { describe, expect, it } from 'vitest';
import { connectionOptions, parseQueueUrl } from './connection.js';

describe('--queue URLs', () => {
  it('uses a password (URL-encoded) and never shows it', () => {
    const connection = parseQueueUrl('redis://:s3cr%2Fet@10.0.0.5:6380/2');
    expect(connectionOptions(connection)).toMatchObject({ host: '10.0.0.5', port: 6380, db: 2, password: 's3cr/et' });
    expect(connection.url).toBe('redis://:***@10.0.0.5:6380/2');
    expect(JSON.stringify(connection.url)).not.toMatch(/s3cr/);
  });

  it('takes a user name (Redis ACL) and TLS with rediss://', () => {
    const connection = parseQueueUrl('rediss://worker:pw@redis.example:6390');
    expect(connectionOptions(connection)).toMatchObject({
      host: 'redis.example',
      port: 6390,
      db: 0,
      username: 'worker',
      password: 'pw',
      tls: { servername: 'redis.example' },
    });
    expect(connection.url).toBe('rediss://worker:***@redis.example:6390');
    expect(connectionOptions(parseQueueUrl('redis://h:1'))).not.toHaveProperty('tls');
  });

  it('refuses bad URLs with one line that does not echo the password', () => {
    expect(() => parseQueueUrl('http://:pw@h:1')).toThrow(
      "bad --queue 'http://:***@h:1': accepted redis://[user:password@]host[:port][/db] or rediss://... (TLS)",
    );
    expect(() => parseQueueUrl('redis://:pw@h:1/x')).toThrow(
      "bad --queue 'redis://:***@h:1/x': the database must be an integer from 0, got 'x'",
    );
    expect(() => parseQueueUrl('redis://:pw@h:1/-1')).toThrow(/the database must be an integer from 0, got '-1'/);
    expect(() => parseQueueUrl('not a url :pw@')).toThrow(/^bad --queue/);
    expect(() => parseQueueUrl('redis://:pw@h:1/x')).not.toThrow(/pw/);
  });
});
