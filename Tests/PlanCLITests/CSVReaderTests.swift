import Foundation
import Reports
import Testing

@testable import PlanCLI

@Suite struct CSVReaderTests {
    func parse(_ s: String) throws -> [[String]] { try CSVReader.parse(Data(s.utf8)).map(\.fields) }

    @Test func readsQuotedFieldsDoubledQuotesAndLineEnds() throws {
        #expect(try parse("a,b\n1,2\n") == [["a", "b"], ["1", "2"]])
        #expect(try parse("a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n") == [["a", "b"], ["x,y", "say \"hi\""]])
        #expect(try parse("a\n\"multi\nline\"\n") == [["a"], ["multi\nline"]])
        #expect(try parse("a,b\n1,\n") == [["a", "b"], ["1", ""]])
        #expect(try parse("no newline at end") == [["no newline at end"]])
        #expect(try parse("a\n\n\nb\n") == [["a"], ["b"]])
    }

    @Test func recordsKeepTheLineTheyStartOn() throws {
        let recs = try CSVReader.parse(Data("h\n\"two\nlines\"\nlast\n".utf8))
        #expect(recs.map(\.line) == [1, 2, 4])
    }

    @Test func stripsAByteOrderMark() throws {
        #expect(try CSVReader.parse(Data([0xEF, 0xBB, 0xBF] + Array("a,b\n".utf8))).map(\.fields) == [["a", "b"]])
    }

    @Test func rejectsMalformedInputNamingTheLine() throws {
        #expect(throws: CSVReader.Failure(line: 2, message: "line 2: a quoted field is never closed")) { try parse("a\n\"never closed\n") }
        #expect(throws: CSVReader.Failure(line: 2, message: "line 2: a quote inside an unquoted field; quote the whole field and double inner quotes (\"\")")) {
            try parse("a\nb\"c\n")
        }
        #expect(throws: CSVReader.Failure(line: 1, message: "line 1: text after a closing quote; expected a comma or the end of the line")) {
            try parse("\"x\"y\n")
        }
        do {
            _ = try CSVReader.parse(Data(Array("ok\nok\n".utf8) + [0xC3, 0x28] + Array("\n".utf8)))
            Issue.record("non-UTF-8 accepted")
        } catch let f as CSVReader.Failure {
            #expect(f == CSVReader.Failure(line: 3, message: "the file is not valid UTF-8 (first bad byte on line 3); save it as UTF-8"))
        }
    }

    @Test func writerQuotesWhatNeedsQuoting() throws {
        #expect(CSVWriter.field("plain") == "plain")
        #expect(CSVWriter.field("a,b") == "\"a,b\"")
        #expect(CSVWriter.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSVWriter.field("two\nlines") == "\"two\nlines\"")
        let text = CSVWriter.render(header: ["a", "b"], rows: [["1,5", "x"]])
        #expect(try CSVReader.parse(Data(text.utf8)).map(\.fields) == [["a", "b"], ["1,5", "x"]])
    }
}
