package io.tcpulse.agent.alert;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Files that are either wholly there or not at all, and on disk when the call returns. */
final class DurableFiles {
    static final String TMP_PREFIX = ".tmp-";

    private DurableFiles() {}

    /** Writes a temporary file, fsyncs it, renames it over target, fsyncs the directory. */
    static void write(Path target, byte[] data) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = dir.resolve(TMP_PREFIX + target.getFileName());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(data);
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDir(dir);
    }

    static void delete(Path file) throws IOException {
        if (Files.deleteIfExists(file)) syncDir(file.toAbsolutePath().getParent());
    }

    static void syncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some file systems refuse to fsync a directory; the rename itself was atomic
            if (!Files.isDirectory(dir)) throw e;
        }
    }
}
