// The `xmpp:` config section (issue 7): the gateway's account on the site's XMPP server (Openfire in the field).
// Absent: safety calls are off. Optional keys get their defaults in safety/config.ts `xmppSettings`. This file
// imports nothing of the gateway, so config/schema.ts can include it.
import { type Static, Type } from '@sinclair/typebox'

/** rpc-and-calls.md B.5 #6: an http(s) base URL followed by /xmlns/xmpp/properties. */
export const PROPERTIES_NS_PATTERN =
  '^https?://[A-Za-z0-9.-]+(?::\\d{1,5})?(?:/[A-Za-z0-9._~%-]+)*/xmlns/xmpp/properties$'
/** B.5 #4: a directive name. */
export const DIRECTIVE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'

const Caller = Type.Object(
  {
    userId: Type.Integer({ minimum: 0 }),
    userName: Type.String({ minLength: 1, maxLength: 128 }),
    userNo: Type.String({ minLength: 1, maxLength: 128 }),
    tenantId: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
)

export const XmppConfigSchema = Type.Object(
  {
    // xmpp://host:5222 (STARTTLS when the server offers it) or xmpps://host:5223 (direct TLS).
    service: Type.String({
      pattern: '^xmpps?://[^/\\s]+$',
      description: 'xmpp://host:port or xmpps://host:port',
    }),
    // The XMPP domain of the account (default: the service's host name).
    domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    resource: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    tls: Type.Optional(
      Type.Object(
        {
          // A PEM file of the CA (or the self-signed certificate) the server's certificate must chain to.
          ca: Type.Optional(Type.String({ minLength: 1 })),
          // false accepts any certificate (testing only: the password then goes to whoever answers).
          rejectUnauthorized: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    // The `properties` namespace of this site's Openfire (rpc-and-calls.md B.5 #6); when set, calls must use it
    // and gateway-built calls do. Default for gateway-built calls: http://{domain}/xmlns/xmpp/properties.
    propertiesNamespace: Type.Optional(Type.String({ pattern: PROPERTIES_NS_PATTERN })),
    // Chat JIDs that may be called without being registered safety devices: `node@domain` or `*@domain`.
    allowedJids: Type.Optional(Type.Array(Type.String({ minLength: 3, maxLength: 320 }), { maxItems: 1000 })),
    // Ask devices for XEP-0184 receipts (default true).
    requestReceipts: Type.Optional(Type.Boolean()),
    // A call neither answered nor declined by then is logged as failed ("no answer"). Default 60 s.
    callTimeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
    // Reconnection backoff: first wait, doubled after each failed attempt up to the maximum.
    reconnect: Type.Optional(
      Type.Object(
        {
          initialDelayMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 60_000 })),
          maxDelayMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 600_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    // Who gateway-built calls (POST /sitegate/v1/safety/calls) are from when the request does not say.
    caller: Type.Optional(Caller),
    // The directive and text of gateway-built calls (B.5 #4, #5).
    directive: Type.Optional(Type.String({ pattern: DIRECTIVE_PATTERN })),
    callText: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  },
  { additionalProperties: false },
)

export type XmppConfig = Static<typeof XmppConfigSchema>
export type CallerConfig = Static<typeof Caller>
