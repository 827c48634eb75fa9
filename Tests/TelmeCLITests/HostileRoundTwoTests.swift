import Foundation
import Testing
@_spi(Fuzzing) import TelmeFormat

/// Issue 13, "Hostile inputs, round two", with real files: FIFOs (mkfifo), devices, symbolic
/// links, hand-edited run files, read-only and full file systems (tmpfs), run through the
/// built `telme` as a user runs it. Every run has a time limit: what blocks fails the test.
@Suite(.serialized) struct HostileRoundTwoTests {
    static let model = AnnotateMediaTests.model  // tiny-meld: teacher, audio, video, fusion
    static let fixtures = AnnotateTests.fixtures

    /// `telme arguments`, killed (and the test failed) if it has not ended within `seconds`.
    static func run(_ arguments: [String], seconds: Double = 120, sourceLocation: SourceLocation = #_sourceLocation)
        throws -> TelmeBinary.Result {
        let (process, errors) = try TelmeBinary.start(arguments)
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("telme \(arguments.joined(separator: " ")) still ran after \(seconds) s", sourceLocation: sourceLocation)
        }
        process.waitUntilExit()
        return TelmeBinary.finish(process, errors)
    }

    static func folder() throws -> URL { try AnnotateTests.temporaryDirectory() }

    static func records(_ out: URL) throws -> [[String: Any]] {
        try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    // MARK: 1. Nothing blocks on what is not a regular file

    @Test(arguments: ["fifo", "/dev/zero"])
    func modelThatIsNotARegularFile(kind: String) throws {
        let dir = try Self.folder()
        var model = kind
        if kind == "fifo" {
            model = dir.appendingPathComponent("model.telme").path
            #expect(mkfifo(model, 0o644) == 0)
        }
        let what = kind == "fifo" ? "is a FIFO (named pipe), not a regular file" : "is a character device, not a regular file"
        let inspect = try Self.run(["inspect", model])
        #expect(inspect.status == 2 && inspect.stderr.contains("\(model): \(what)"), "\(inspect.stderr)")
        let annotate = try Self.run(["annotate", "--model", model, "--corpus", AnnotateMediaTests.corpus,
                                     "--out", dir.appendingPathComponent("out").path])
        #expect(annotate.status == 2 && annotate.stderr.contains("\(model): \(what)"), "\(annotate.stderr)")
    }

    /// A clip that is a FIFO, and one that is /dev/zero: their utterances get the status error,
    /// the run ends (exit 1); validate lists them.
    @Test func clipsThatAreNotRegularFiles() throws {
        let dir = try Self.folder()
        #expect(mkfifo(dir.appendingPathComponent("fifo.mp4").path, 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("zero.mp4").path,
                                                   withDestinationPath: "/dev/zero")
        let corpus = dir.appendingPathComponent("corpus.csv")
        try Data("Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID,Video_Path\nHi.,A,joy,0,0,fifo.mp4\nOh.,B,joy,0,1,zero.mp4\n"
            .utf8).write(to: corpus)
        let out = dir.appendingPathComponent("out")
        // --allow-outside-root: zero.mp4 is a link to /dev/zero, outside the root; the kind is checked anyway.
        let result = try Self.run(["annotate", "--model", Self.model.path, "--corpus", corpus.path, "--out", out.path,
                                   "--threads", "1", "--allow-outside-root"])
        #expect(result.status == 1, "\(result.stderr)")
        let records = try Self.records(out)
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0["audio_status"] as? String == "error" && $0["video_status"] as? String == "error" })
        #expect((records[0]["message"] as? String)?.contains("is a FIFO (named pipe), not a regular file") == true)
        #expect((records[1]["message"] as? String)?.contains("is a character device, not a regular file") == true)
        let validate = try Self.run(["validate", corpus.path, "--allow-outside-root"])
        #expect(validate.status == 1)
    }

    @Test func episodeVideoThatIsAFIFO() throws {
        let dir = try Self.folder()
        let episodes = dir.appendingPathComponent("episodes")
        try FileManager.default.createDirectory(at: episodes, withIntermediateDirectories: true)
        #expect(mkfifo(episodes.appendingPathComponent("ep01.mp4").path, 0o644) == 0)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("episodes/ep01.srt"),
                                         to: episodes.appendingPathComponent("ep01.srt"))
        let out = dir.appendingPathComponent("out")
        let result = try Self.run(["annotate", "--model", Self.model.path, "--corpus", episodes.path, "--out", out.path,
                                   "--threads", "1"])
        #expect(result.status == 1, "\(result.stderr)")
        let records = try Self.records(out)
        #expect(!records.isEmpty)
        #expect(records.allSatisfy { ($0["message"] as? String)?.contains("is a FIFO (named pipe)") == true })
    }

    /// A unit that does not finish (here one long dialogue) is stopped by a second SIGTERM,
    /// and run.json says interrupted, not running.
    @Test func aSecondSignalStopsAUnitUnderWay() throws {
        let dir = try Self.folder()
        let corpus = dir.appendingPathComponent("long.csv")
        var csv = "Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID\n"
        for k in 0..<20_000 { csv += "Line number \(k) of a long dialogue.,S\(k % 4),joy,0,\(k)\n" }
        try Data(csv.utf8).write(to: corpus)
        let out = dir.appendingPathComponent("out")
        let (process, errors) = try TelmeBinary.start(["annotate", "--model", Self.model.path, "--corpus", corpus.path,
                                                       "--out", out.path, "--text-only", "--threads", "1"])
        let run = out.appendingPathComponent("run.json")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: run.path) && process.isRunning && Date() < deadline { usleep(20_000) }
        usleep(500_000)
        kill(process.processIdentifier, SIGTERM)
        usleep(500_000)
        #expect(process.isRunning)  // finishing the unit, which takes far longer
        kill(process.processIdentifier, SIGTERM)
        let stopBy = Date().addingTimeInterval(20)
        while process.isRunning && Date() < stopBy { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let result = TelmeBinary.finish(process, errors)
        #expect(!result.signaled && result.status == 143, "\(result.stderr)")
        #expect(try TelmeBinary.runInfo(out)["state"] as? String == "interrupted")
    }

    // MARK: 2. Nothing outside its place is read

    /// A transcript that is a link to a file outside the episodes folder is not read (its text
    /// never reaches the output or stderr) unless --allow-outside-root.
    @Test func transcriptLinkedOutsideTheFolder() throws {
        let dir = try Self.folder()
        let episodes = dir.appendingPathComponent("episodes")
        try FileManager.default.createDirectory(at: episodes, withIntermediateDirectories: true)
        for name in ["ep01.mp4", "ep01.srt"] {
            try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("episodes/\(name)"),
                                             to: episodes.appendingPathComponent(name))
        }
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("episodes/ep01.mp4"),
                                         to: episodes.appendingPathComponent("ep02.mp4"))
        let secret = dir.appendingPathComponent("secret.srt")
        try Data("1\n00:00:00,000 --> 00:00:01,000\nTOP SECRET LINE\n".utf8).write(to: secret)
        try FileManager.default.createSymbolicLink(atPath: episodes.appendingPathComponent("ep02.srt").path,
                                                   withDestinationPath: "../secret.srt")
        let out = dir.appendingPathComponent("out")
        let refused = try Self.run(["annotate", "--model", Self.model.path, "--corpus", episodes.path, "--out", out.path,
                                    "--text-only"])
        // 0: --text-only records are ok (audio and video skipped).
        #expect(refused.status == 0, "\(refused.stderr)")
        #expect(refused.stderr.contains("ep02.srt: is \(MediaPath.real(secret.path)), outside the episodes folder"),
                "\(refused.stderr)")
        #expect(!refused.stderr.contains("SECRET"))
        #expect(try !String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8).contains("SECRET"))

        let allowed = dir.appendingPathComponent("allowed")
        let read = try Self.run(["annotate", "--model", Self.model.path, "--corpus", episodes.path, "--out", allowed.path,
                                 "--text-only", "--allow-outside-root"])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(try String(contentsOf: allowed.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .contains("TOP SECRET LINE"))
    }

    // MARK: 3. Nothing it does not own is written over

    static func annotate(_ corpus: String, _ out: URL, _ extra: [String] = []) throws -> TelmeBinary.Result {
        try run(["annotate", "--model", model.path, "--corpus", corpus, "--out", out.path, "--text-only",
                 "--threads", "1"] + extra)
    }

    @Test func theCorpusInTheOutputFolderIsNeverReplaced() throws {
        let dir = try Self.folder()
        let corpus = dir.appendingPathComponent("annotations.csv")
        try FileManager.default.copyItem(atPath: AnnotateMediaTests.corpus, toPath: corpus.path)
        let before = try Data(contentsOf: corpus)
        for extra in [[], ["--overwrite"]] {
            let result = try Self.annotate(corpus.path, dir, extra)
            #expect(result.status == 2, "\(result.stderr)")
            #expect(result.stderr.contains("\(corpus.path): is an input of this command; telme never replaces an input"),
                    "\(result.stderr)")
            #expect(try Data(contentsOf: corpus) == before)
        }
    }

    @Test(arguments: ["annotations.jsonl", "annotations.csv", "json/mine.json", "notes.txt"])
    func aUsersFolderIsRefusedWithoutOverwrite(file: String) throws {
        let out = try Self.folder()
        let mine = out.appendingPathComponent(file)
        try FileManager.default.createDirectory(at: mine.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("my own data\n".utf8).write(to: mine)
        let refused = try Self.annotate(AnnotateMediaTests.corpus, out)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("holds files that are not a telme run"), "\(refused.stderr)")
        #expect(try Data(contentsOf: mine) == Data("my own data\n".utf8))

        let replaced = try Self.annotate(AnnotateMediaTests.corpus, out, ["--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        if file.hasPrefix("annotations") {
            #expect(replaced.stderr.contains("--overwrite: replacing") && replaced.stderr.contains(mine.path),
                    "\(replaced.stderr)")
        } else if file == "notes.txt" {
            #expect(try Data(contentsOf: mine) == Data("my own data\n".utf8))  // not telme's: left alone
        }
    }

    @Test func outThatIsAFileOrHoldsAFIFO() throws {
        let dir = try Self.folder()
        let file = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        let result = try Self.annotate(AnnotateMediaTests.corpus, file)
        #expect(result.status == 2 && result.stderr.contains("\(file.path): is a file, not a folder; give --out a new "
                                                             + "or empty folder"), "\(result.stderr)")
        #expect(!result.stderr.contains("NSCocoaErrorDomain"))

        let out = dir.appendingPathComponent("out")
        #expect(Self.annotateOK(out))
        let csv = out.appendingPathComponent("annotations.csv")
        try FileManager.default.removeItem(at: csv)
        #expect(mkfifo(csv.path, 0o644) == 0)
        let fifo = try Self.annotate(AnnotateMediaTests.corpus, out, ["--overwrite"])
        #expect(fifo.status == 2 && fifo.stderr.contains("\(csv.path): is a FIFO (named pipe), not a regular file; "
                                                         + "telme replaces only its own regular files"), "\(fifo.stderr)")
    }

    static func annotateOK(_ out: URL) -> Bool {
        // 0: --text-only leaves the students out on purpose (skipped, records ok).
        ((try? annotate(AnnotateMediaTests.corpus, out))?.status ?? 2) == 0
    }

    @Test func overwriteRemovesAStaleEvaluation() throws {
        let out = try Self.folder().appendingPathComponent("out")
        #expect(Self.annotateOK(out))
        #expect(try Self.run(["evaluate", out.path]).status == 0)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("evaluation.json").path))
        let again = try Self.annotate(AnnotateMediaTests.corpus, out, ["--overwrite"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("evaluation.json"), "\(again.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("evaluation.json").path))
    }

    @Test func mergeOverAnotherCompleteRunIsRefused() throws {
        let dir = try Self.folder()
        let shard = dir.appendingPathComponent("shard"), other = dir.appendingPathComponent("other")
        #expect(Self.annotateOK(shard))
        #expect(try Self.annotate(AnnotateMediaTests.corpus, other, ["--batch-size", "3"]).status == 0)
        let before = try TelmeBinary.outputs(other)
        let refused = try Self.run(["merge", shard.path, "--out", other.path])
        #expect(refused.status == 2 && refused.stderr.contains("holds another run"), "\(refused.stderr)")
        #expect(try TelmeBinary.outputs(other) == before)
        let merged = dir.appendingPathComponent("merged")
        #expect(try Self.run(["merge", shard.path, "--out", merged.path]).status == 0)
        #expect(try Self.run(["merge", shard.path, "--out", merged.path]).status == 0)  // the same merge again
        #expect(try Self.run(["merge", shard.path, "--out", other.path, "--overwrite"]).status == 0)
    }

    // MARK: 4. No crash from a file

    /// Headers the converter would never write, with every checksum valid: inspect and annotate
    /// refuse them alike, naming the file; neither crashes.
    @Test(arguments: [
        ("sample-rate", "settings.sample_rate is 1099511627776"),
        ("max-text-tokens", "text.encoder.max_position_embeddings is"),
        ("num-frames", "settings.num_frames is 9, but the video encoder takes"),
        ("max-audio-samples", "settings.max_audio_samples is 1099511627776"),
        ("nan", "is NaN or infinite"),
    ])
    func inconsistentModelsAreRefusedByInspectAndAnnotate(change: String, message: String) throws {
        let dir = try Self.folder()
        let original = try Data(contentsOf: Self.model)
        let headerJSON = try #require(TelmeFile.headerJSON(of: original))
        var header = try #require(try JSONSerialization.jsonObject(with: headerJSON) as? [String: Any])
        var model = header["model"] as! [String: Any]
        var settings = model["settings"] as! [String: Any]
        var data = original
        switch change {
        case "sample-rate": settings["sample_rate"] = 1 << 40
        case "max-text-tokens": settings["max_text_tokens"] = 600
        case "num-frames": settings["num_frames"] = 9
        case "max-audio-samples": settings["max_audio_samples"] = 1 << 40
        default:
            // A NaN as the first value of the first weight tensor (little-endian f32).
            let entry = try #require(try TelmeFile(contentsOf: Self.model).tensorTable.first { $0.dtype == .f32 })
            let offset = Int(entry.offset)
            data.replaceSubrange(offset..<(offset + 4), with: [0x00, 0x00, 0xC0, 0x7F])
        }
        model["settings"] = settings
        header["model"] = model
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        let file = dir.appendingPathComponent("hostile.telme")
        try #require(TelmeFile.withChecksumsRecomputed(data, header: json)).write(to: file)
        for arguments in [["inspect", file.path],
                          ["annotate", "--model", file.path, "--corpus", AnnotateMediaTests.corpus, "--out",
                           dir.appendingPathComponent("out").path, "--text-only"]] {
            let result = try Self.run(arguments)
            #expect(!result.signaled && result.status == 2, "\(arguments[0]): \(result.stderr)")
            #expect(result.stderr.contains(file.path) && result.stderr.contains(message), "\(arguments[0]): \(result.stderr)")
        }
    }

    /// units.jsonl edited by hand (negative count, overflowing range): resume and merge refuse
    /// it naming the file.
    @Test(arguments: [#""count":-1"#, #""first":9223372036854775807"#])
    func impossibleUnitEntries(edit: String) throws {
        let dir = try Self.folder()
        let out = dir.appendingPathComponent("out")
        #expect(Self.annotateOK(out))
        let journal = out.appendingPathComponent("units.jsonl")
        let text = try String(contentsOf: journal, encoding: .utf8)
        let key = edit.split(separator: ":")[0]
        let edited = text.replacingOccurrences(of: "\(key):[0-9]+", with: edit, options: .regularExpression)
        #expect(edited != text)
        try Data(edited.utf8).write(to: journal)
        let resume = try Self.annotate(AnnotateMediaTests.corpus, out)
        #expect(!resume.signaled && resume.status == 2 && resume.stderr.contains("\(journal.path):1: not a unit entry"),
                "\(resume.stderr)")
        let merge = try Self.run(["merge", out.path, "--out", dir.appendingPathComponent("merged").path])
        #expect(!merge.signaled && merge.status == 2 && merge.stderr.contains(journal.path), "\(merge.stderr)")
    }

    // MARK: 5 and 6. Many warnings, control characters

    /// A transcript of 20,000 cues without text: a few warning lines and a count, not 20,000.
    @Test func repeatedWarningsAreSummarised() throws {
        let dir = try Self.folder()
        let episodes = dir.appendingPathComponent("episodes")
        try FileManager.default.createDirectory(at: episodes, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("episodes/ep01.mp4"),
                                         to: episodes.appendingPathComponent("ep01.mp4"))
        var srt = "1\n00:00:00,000 --> 00:00:01,000\nA: hello\n\n"
        func time(_ seconds: Int) -> String {
            String(format: "%02d:%02d:%02d,000", seconds / 3600, seconds / 60 % 60, seconds % 60)
        }
        for k in 0..<20_000 { srt += "\(k + 2)\n\(time(k + 2)) --> \(time(k + 3))\n\n" }
        try Data(srt.utf8).write(to: episodes.appendingPathComponent("ep01.srt"))
        let result = try Self.annotate(episodes.path, dir.appendingPathComponent("out"))
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count < 20, "\(lines.count) lines")
        #expect(result.stderr.contains("cue without text, skipped"))
        #expect(result.stderr.contains("19995 more warnings like the one above (20000 in all), not shown"),
                "\(result.stderr)")
    }

    /// Control characters in a file name (ESC, newline) and in a transcript reach stderr escaped.
    @Test func controlCharactersAreEscaped() throws {
        let dir = try Self.folder()
        let corpus = dir.appendingPathComponent("evil\u{1B}[2J\nfake.csv")
        let missing = try Self.annotate(corpus.path, dir.appendingPathComponent("out"))
        #expect(missing.status == 2)
        #expect(!missing.stderr.contains("\u{1B}"))
        #expect(missing.stderr.contains("evil\\e[2J\\nfake.csv"), "\(missing.stderr)")
        #expect(missing.stderr.split(separator: "\n").count == 1)

        try Data("Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID\nHi,A,\u{1B}]0;owned\u{07},0,0\n".utf8).write(to: corpus)
        let warned = try Self.annotate(corpus.path, dir.appendingPathComponent("out2"))
        #expect(!warned.stderr.contains("\u{1B}") && !warned.stderr.contains("\u{07}"), "\(warned.stderr)")
        #expect(warned.stderr.contains("\\e]0;owned\\u{7}"), "\(warned.stderr)")
    }

    // MARK: File systems: read-only, full (tmpfs; needs root and mount)

    static func mount(_ options: String) -> URL? {
        guard getuid() == 0, let dir = try? folder() else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/mount")
        process.arguments = ["-t", "tmpfs", "-o", options, "tmpfs", dir.path]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? dir : nil
    }

    static func unmount(_ dir: URL) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/umount")
        process.arguments = [dir.path]
        try? process.run()
        process.waitUntilExit()
    }

    static let canMount: Bool = {
        guard let dir = mount("size=8k") else { return false }
        unmount(dir)
        return true
    }()

    @Test(.enabled(if: canMount, "needs root and tmpfs mounts"))
    func readOnlyAndFullFileSystemsGiveMessagesNamingTheFile() throws {
        let readOnly = try #require(Self.mount("ro,size=64k"))
        defer { Self.unmount(readOnly) }
        let out = readOnly.appendingPathComponent("out")
        let refused = try Self.annotate(AnnotateMediaTests.corpus, out)
        #expect(refused.status == 2 && refused.stderr.contains(out.path), "\(refused.stderr)")
        #expect(refused.stderr.contains("Read-only file system") || refused.stderr.contains("read-only"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("NSCocoaErrorDomain") && !refused.stderr.contains("Error Domain"))

        let small = try #require(Self.mount("size=8k"))
        defer { Self.unmount(small) }
        let full = try Self.annotate(AnnotateMediaTests.corpus, small.appendingPathComponent("out"))
        #expect(full.status == 2 && full.stderr.contains(small.path), "\(full.stderr)")
        #expect(!full.stderr.contains("Error Domain"), "\(full.stderr)")
    }
}

/// `realpath`, for messages that give resolved paths (/tmp may be a link).
enum MediaPath {
    static func real(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
