package io.tcpulse.agent.alert;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/** Issue 11: a receiver's answer is read up to alerts.delivery.maxResponseBytes, then the exchange is cancelled. */
class LimitedBodyTest {

    @Test
    void anAnswerPastTheLimitIsCutAndTheRestNotRead() throws Exception {
        WebhookDelivery.LimitedBody body = new WebhookDelivery.LimitedBody(10);
        AtomicBoolean cancelled = new AtomicBoolean();
        body.onSubscribe(new Flow.Subscription() {
            @Override public void request(long n) {}
            @Override public void cancel() { cancelled.set(true); }
        });
        body.onNext(List.of(ByteBuffer.wrap("0123456".getBytes(StandardCharsets.US_ASCII))));
        assertFalse(cancelled.get());
        body.onNext(List.of(ByteBuffer.wrap("789abcdef".getBytes(StandardCharsets.US_ASCII)),
                ByteBuffer.wrap(new byte[1 << 20])));
        assertTrue(cancelled.get(), "the rest is not read");
        assertEquals("0123456789", body.getBody().toCompletableFuture().get());
    }

    @Test
    void aShortAnswerIsReadWhole() throws Exception {
        WebhookDelivery.LimitedBody body = new WebhookDelivery.LimitedBody(64);
        body.onSubscribe(new Flow.Subscription() {
            @Override public void request(long n) {}
            @Override public void cancel() { fail("nothing to cancel"); }
        });
        body.onNext(List.of(ByteBuffer.wrap("{\"ok\":true}".getBytes(StandardCharsets.US_ASCII))));
        body.onComplete();
        assertEquals("{\"ok\":true}", body.getBody().toCompletableFuture().get());
    }
}
