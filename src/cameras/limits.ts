/**
 * The largest camera message the transports accept: base64 of twice the image limit, plus room for the
 * envelope. An image up to twice too large still gets a proper reply (ret 6, "more than the … allowed");
 * beyond that the MQTT connection is closed or the HTTP POST refused (400 50400) before the body is read.
 */
export function cameraMessageLimit(maxImageBytes: number): number {
  return Math.ceil((maxImageBytes * 2) / 3) * 4 + 64 * 1024
}
