import Foundation
import Testing
@testable import TelmeCorpus

/// RFC 4180 reading, byte-exact text, and errors that name the line.
@Suite struct CSVReaderTests {
    func parse(_ text: String) throws -> [CSVRow] {
        try CSVReader.parse(Data(text.utf8), file: "t.csv").rows
    }

    func parseError(_ bytes: [UInt8]) -> CorpusError? {
        do {
            _ = try CSVReader.parse(Data(bytes), file: "t.csv")
            return nil
        } catch {
            return error
        }
    }

    @Test func quotedCommasNewlinesAndDoubledQuotes() throws {
        let rows = try parse("a,b,c\n\"x, y\",\"line1\nline2\",\"say \"\"hi\"\"\"\n4,,\"\"\n")
        #expect(rows == [
            CSVRow(fields: ["a", "b", "c"], line: 1),
            CSVRow(fields: ["x, y", "line1\nline2", "say \"hi\""], line: 2),
            CSVRow(fields: ["4", "", ""], line: 4),
        ])
    }

    @Test func crlfBomAndEmptyLines() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("h1,h2\r\n\r\n1,\"a\r\nb\"\r\n2,c".utf8)
        let rows = try CSVReader.parse(Data(bytes), file: "t.csv").rows
        #expect(rows == [
            CSVRow(fields: ["h1", "h2"], line: 1),
            CSVRow(fields: ["1", "a\r\nb"], line: 3), // the CRLF inside quotes is kept as it is
            CSVRow(fields: ["2", "c"], line: 5),
        ])
    }

    @Test func controlCharactersAndNonASCIIAreKept() throws {
        let rows = try parse("t\nit\u{92}s \u{a0}caf\u{e9}  \n")
        #expect(Array(rows[1].fields[0].unicodeScalars) == Array("it\u{92}s \u{a0}caf\u{e9}  ".unicodeScalars))
    }

    @Test func junkAfterClosingQuoteNamesTheLine() {
        let error = parseError(Array("a,b\n1,2\n\"ok\",\"bad\"x\n".utf8))
        #expect(error == CorpusError(file: "t.csv", line: 3, message: "unexpected 'x' after the closing quote of a field"))
    }

    @Test func unclosedQuoteNamesTheLineWhereItOpened() {
        let error = parseError(Array("a,b\n1,2\n3,\"never\nclosed\n".utf8))
        #expect(error?.line == 3)
        #expect(error?.description == "t.csv:3: quoted field is never closed (opening quote on this line)")
    }

    @Test func quoteInsideUnquotedFieldIsAnError() {
        let error = parseError(Array("a,b\n1,2\n3,5'10\" tall\n".utf8))
        #expect(error?.line == 3)
    }

    @Test func lineNumbersCountBreaksInsideQuotes() {
        let error = parseError(Array("a\n\"1\n2\n3\"\n\"x\"y\n".utf8))
        #expect(error?.line == 5)
    }

    @Test func invalidUTF8IsReplacedAndReported() throws {
        let bytes: [UInt8] = Array("a,b\n1,ok\n2,x".utf8) + [0xFF, 0x41, 0xC3] + Array("\n".utf8)
        let (rows, warnings) = try CSVReader.parse(Data(bytes), file: "t.csv")
        #expect(rows[2].fields == ["2", "x\u{FFFD}A\u{FFFD}"])
        #expect(warnings == [CorpusWarning(file: "t.csv", line: 3, message: "invalid UTF-8 at byte offset 12, replaced with U+FFFD")])
    }

    @Test func missingFileIsAnErrorNamingIt() {
        #expect {
            try CSVReader.read(contentsOf: URL(fileURLWithPath: "/nonexistent/x.csv"))
        } throws: { error in
            "\(error)".hasPrefix("/nonexistent/x.csv: cannot read")
        }
    }
}

/// Arbitrary bytes either parse or give a `CorpusError`; never a crash.
@Suite struct CSVReaderRobustnessTests {
    @Test func randomBytes() {
        var state: UInt64 = 0x1234_5678_9ABC_DEF1
        let pieces: [[UInt8]] = [[0x22], [0x2C], [0x0A], [0x0D], [0x0D, 0x0A], [0x61], [0xEF, 0xBB, 0xBF], [0xFF],
                                 [0xC3], [0xA9], [0xE2, 0x80], [0x22, 0x22], [0x20]]
        for _ in 0..<2000 {
            var bytes: [UInt8] = []
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let count = Int(state % 30)
            for k in 0..<count { bytes += pieces[Int((state >> UInt64(k % 60)) % UInt64(pieces.count))] }
            do {
                let (rows, _) = try CSVReader.parse(Data(bytes), file: "r.csv")
                #expect(rows.allSatisfy { $0.line >= 1 && !$0.fields.isEmpty })
            } catch {
                #expect(error.line != nil)
            }
        }
    }
}
