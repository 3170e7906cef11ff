// node-oidc-provider 9 reference server for tokenmint's client_credentials
// benchmark (see ../README.md). Listens on 127.0.0.1 only.
//
//   NODE_ENV=production PORT=3000 node server.js
//
// Token endpoint: POST /token (oidc-provider's default routes.token).
// A client_credentials request with resource=https://api.example.com yields an
// ES256-signed JWT access token (typ at+jwt) for audience https://api.example.com.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT ?? '3000', 10);
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) {
  console.error(`invalid PORT: ${process.env.PORT}`);
  process.exit(2);
}
const ISSUER = `http://${HOST}:${PORT}`;

const RESOURCE = process.env.BENCH_RESOURCE ?? 'https://api.example.com';
const CLIENT_ID = process.env.BENCH_CLIENT_ID ?? 'bench';
const CLIENT_SECRET = process.env.BENCH_CLIENT_SECRET
  ?? 'bench-secret-0123456789abcdefghijklmnopqrstuv';

// Fresh P-256 signing key for every start (ES256).
const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `bench-es256-${crypto.randomBytes(6).toString('hex')}`,
  alg: 'ES256',
  use: 'sig',
};

const resourceServerInfo = {
  scope: 'read write',
  audience: RESOURCE,
  accessTokenFormat: 'jwt',
  accessTokenTTL: 3600,
  jwt: { sign: { alg: 'ES256' } },
};

const configuration = {
  // Default in-memory adapter: no `adapter` key.
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'read write',
    },
  ],
  clientDefaults: {
    // The only key in the JWKS is ES256; keep client defaults consistent.
    id_token_signed_response_alg: 'ES256',
  },
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['read', 'write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator === RESOURCE) {
          return resourceServerInfo;
        }
        throw new errors.InvalidTarget();
      },
    },
  },
  ttl: {
    // Explicit TTLs (also silences oidc-provider's "you SHOULD change" notices).
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
  },
  findAccount: async () => undefined,
};

const provider = new Provider(ISSUER, configuration);

// No per-request logging. Report server errors, but rate-limited so that a
// systematic failure cannot turn into per-request console output.
let serverErrors = 0;
provider.on('server_error', (_ctx, err) => {
  serverErrors += 1;
  if (serverErrors <= 5 || serverErrors % 10000 === 0) {
    console.error(`server_error #${serverErrors}:`, err);
  }
});

const server = http.createServer(provider.callback());
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`oidc-provider listening on http://${HOST}:${port} (issuer ${ISSUER}, token endpoint ${ISSUER}/token, NODE_ENV=${process.env.NODE_ENV ?? ''})`);
});

function shutdown(signal) {
  console.log(`received ${signal}, shutting down (server_errors=${serverErrors})`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
