/**
 * Request parsers: read the model, prompt and streaming flag from a request body, and token usage from responses.
 * Types {@code openai-parser} (the default), {@code anthropic-parser}, {@code vllmhttp-parser} and
 * {@code passthrough-parser}.
 */
package dev.epp.scheduler.plugins.parser;
