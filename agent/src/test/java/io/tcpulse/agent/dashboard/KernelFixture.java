package io.tcpulse.agent.dashboard;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.config.Config;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * What the dashboard's kernel tests need: the requirement check (fail, never skip,
 * unless -Dtcpulse.allowSkip=true), an in-process agent and HTTP; namespaces are the
 * kernel package's {@link io.tcpulse.agent.kernel.Netns}.
 */
final class KernelFixture {
    private KernelFixture() {}

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static void requireRootAndBpf() {
        io.tcpulse.agent.kernel.KernelTestSupport.requireRootAndBpf();
    }

    static String stormTool() {
        return io.tcpulse.agent.kernel.KernelTestSupport.stormTool();
    }

    /** An agent listening on 127.0.0.1:port (0: any free port). */
    static Main.Agent startAgent(int port) throws Exception {
        return Main.Agent.start(Config.parse(new String[]{"--listen", "127.0.0.1:" + port, "--walk-interval-ms", "500"}));
    }

    static JsonObject getJson(int port, String pathAndQuery) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
                .timeout(Duration.ofSeconds(10)).GET().build();
        HttpResponse<String> r = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IOException("GET " + pathAndQuery + " -> " + r.statusCode() + " " + r.body());
        return new JsonObject(r.body());
    }
}
