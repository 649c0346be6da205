/** deviceInfo.protocolType that registers a OneJSON thing-model device (README "OneJSON devices"). */
export const ONEJSON_PROTOCOL_TYPE = 'OneJSON'
