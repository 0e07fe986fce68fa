package io.tcpulse.agent.cli;

import io.tcpulse.agent.config.Config;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** One command line: subcommands, run by default, --opt=value and --opt value, generated help, exit code 2. */
class CliTest {
    private record Out(int code, String out, String err) {}

    private static Out run(String... args) {
        CommandLine cl = Cli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(Cli.withDefaultCommand(args));
        return new Out(code, out.toString(), err.toString());
    }

    @Test
    void runIsTheDefaultCommand() {
        assertArrayEquals(new String[]{"run", "--listen", "127.0.0.1:1"}, Cli.withDefaultCommand(new String[]{"--listen", "127.0.0.1:1"}));
        assertArrayEquals(new String[]{"run"}, Cli.withDefaultCommand(new String[0]));
        assertArrayEquals(new String[]{"check", "--config", "f"}, Cli.withDefaultCommand(new String[]{"check", "--config", "f"}));
        assertArrayEquals(new String[]{"--help"}, Cli.withDefaultCommand(new String[]{"--help"}));
    }

    @Test
    void bothOptionFormsAreAccepted() throws Exception {
        Config a = Config.parse(new String[]{"--listen=127.0.0.1:9555", "--walk-interval-ms=500", "--cors-origin=https://a.example",
                "--alertmanager=http://am:9093"});
        Config b = Config.parse(new String[]{"--listen", "127.0.0.1:9555", "--walk-interval-ms", "500", "--cors-origin",
                "https://a.example", "--alertmanager", "http://am:9093"});
        assertEquals(9555, a.port());
        assertEquals(a.host(), b.host());
        assertEquals(500, a.walkIntervalMs());
        assertEquals(List.of("https://a.example"), a.corsOrigins());
        assertEquals(a.alerts(), b.alerts());
        assertEquals(a.args(), b.args(), "one canonical form is kept for reloads");
    }

    @Test
    void anUnknownOptionIsAUsageErrorWithExitCode2() {
        Out o = run("--lisen", "127.0.0.1:9470");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("Unknown option") && o.err().contains("'--lisen'"), o.err());
        assertTrue(o.err().contains("tcpulse run --help"), o.err());
        Config.ConfigException e = assertThrows(Config.ConfigException.class, () -> Config.parse(new String[]{"--bogus"}));
        assertTrue(e.getMessage().contains("Unknown option: '--bogus'"), e.getMessage());
    }

    @Test
    void aBadValueIsAConfigurationErrorWithTheRule() throws Exception {
        Config.ConfigException e = assertThrows(Config.ConfigException.class,
                () -> Config.parse(new String[]{"--walk-interval-ms=fast"}));
        assertEquals("--walk-interval-ms must be a whole number, got \"fast\"", e.getMessage());
        e = assertThrows(Config.ConfigException.class, () -> Config.parse(new String[]{"--listen"}));
        assertTrue(e.getMessage().contains("Missing required parameter for option '--listen'"), e.getMessage());
    }

    @Test
    void helpIsGeneratedWithExamplesAndExitCodes() {
        Out top = run("--help");
        assertEquals(0, top.code());
        for (String s : List.of("run", "check", "bench-pipeline", "version", "Examples:", "Exit codes:", "configuration or usage error")) {
            assertTrue(top.out().contains(s), s + " in\n" + top.out());
        }
        Out runHelp = run("help", "run");
        assertEquals(0, runHelp.code());
        for (String s : List.of("--listen=HOST:PORT", "--alertmanager=URL", "--config=FILE", "--max-collection-outage", "Examples:")) {
            assertTrue(runHelp.out().contains(s), s + " in\n" + runHelp.out());
        }
        Out checkHelp = run("check", "--help");
        assertTrue(checkHelp.out().contains("--config=FILE"), checkHelp.out());
        Out benchHelp = run("bench-pipeline", "-h");
        assertTrue(benchHelp.out().contains("--events=N"), benchHelp.out());
    }

    @Test
    void anArgumentStartingWithAtIsAValueNotAFile() throws Exception {
        Config.ConfigException e = assertThrows(Config.ConfigException.class, () -> Config.parse(new String[]{"@/etc/passwd"}));
        assertTrue(e.getMessage().contains("@/etc/passwd"), e.getMessage());
        assertFalse(e.getMessage().contains("root:"), e.getMessage());
    }

    @Test
    void versionPrintsTheVersion() {
        Out o = run("--version");
        assertEquals(0, o.code());
        assertTrue(o.out().startsWith("tcpulse "), o.out());
    }
}
