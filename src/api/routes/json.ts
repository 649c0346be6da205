import type { FastifyReply } from 'fastify'

/** fastify's own content type for a JSON reply. */
const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * Sends a body that is already JSON text (from the device view cache) exactly as a returned object would go:
 * same content type, same bytes. fastify sends a string of a JSON content type as it is, unserialised.
 */
export function sendJson(reply: FastifyReply, json: string): FastifyReply {
  return reply.type(JSON_TYPE).send(json)
}
