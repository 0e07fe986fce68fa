package io.tcpulse.agent;

import io.tcpulse.agent.aggregate.Aggregator;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.http.ApiServer;
import io.tcpulse.agent.probe.Probe;
import io.tcpulse.agent.probe.ProbeException;
import io.tcpulse.agent.probe.ProbeLoop;
import io.vertx.core.Vertx;

import java.util.Arrays;
import java.util.logging.Logger;

/** java -jar tcpulse.jar [--listen HOST:PORT] [--config FILE] ... */
public final class Main {
    static {
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
    }

    private static final Logger LOG = Logger.getLogger(Main.class.getName());

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("bench-pipeline")) {
            io.tcpulse.agent.bench.PipelineBench.main(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
            System.out.print(Config.USAGE);
            return;
        }
        Config config;
        try {
            config = Config.parse(args);
        } catch (Config.ConfigException e) {
            System.err.println("tcpulse: " + e.getMessage());
            System.exit(2);
            return;
        }
        Agent agent = Agent.start(config);
        Runtime.getRuntime().addShutdownHook(new Thread(agent::close, "tcpulse-shutdown"));
    }

    /** A running agent: probe (or /proc), aggregator, HTTP server. */
    public static final class Agent implements AutoCloseable {
        private final Probe probe;
        private final ProbeLoop loop;
        private final Vertx vertx;
        private final ApiServer api;
        public final Aggregator aggregator;

        private Agent(Probe probe, ProbeLoop loop, Vertx vertx, ApiServer api, Aggregator aggregator) {
            this.probe = probe;
            this.loop = loop;
            this.vertx = vertx;
            this.api = api;
            this.aggregator = aggregator;
        }

        public static Agent start(Config config) throws Exception {
            Aggregator aggregator = new Aggregator(config.recentEvents(), System::currentTimeMillis);
            Probe probe = null;
            if (!config.probeEnabled()) {
                aggregator.setProbe(false, "probe disabled by configuration (--no-probe)");
            } else {
                try {
                    probe = Probe.open(new Probe.Options(config.ringBytes(), config.maxEventsPerSec(), 0, false));
                    aggregator.setProbe(true, null);
                    LOG.info("probe attached: " + probe.ringCount() + " per-CPU rings");
                } catch (ProbeException e) {
                    aggregator.setProbe(false, e.getMessage());
                    LOG.warning("BPF probe unavailable, degraded to /proc/net/tcp: " + e.getMessage());
                }
            }
            ProbeLoop loop = new ProbeLoop(probe, aggregator, new ProbeLoop.Settings(
                    config.tickMs(), 16384, config.walkIntervalMs(), 200));
            // exact from the first second: the first walk runs before anyone can ask
            loop.walkNow();
            aggregator.publish();
            loop.start();
            Vertx vertx = Vertx.vertx();
            ApiServer api = new ApiServer(aggregator, config.host(), config.port());
            try {
                vertx.deployVerticle(api).await();
            } catch (Exception e) {
                loop.close();
                if (probe != null) probe.close();
                vertx.close();
                throw new IllegalStateException("cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage(), e);
            }
            LOG.info("tcpulse listening on http://" + hostForUrl(config.host()) + ":" + api.actualPort() + "/");
            return new Agent(probe, loop, vertx, api, aggregator);
        }

        public int port() { return api.actualPort(); }

        private static String hostForUrl(String host) {
            return host.contains(":") ? "[" + host + "]" : host;
        }

        @Override
        public void close() {
            try {
                vertx.close().await();
            } catch (Exception ignored) {
                // shutting down anyway
            }
            try {
                loop.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (probe != null) probe.close();
        }
    }
}
