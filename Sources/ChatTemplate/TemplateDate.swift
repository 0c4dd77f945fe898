// TemplateDate: the calendar date and time a caller hands to `render(now:)` for templates that call
// HF's `strftime_now(format)` (Llama 3.2 prints today's date); the template core never reads a clock.

/// A local date and time, as `datetime.now()` would give it to HF's `strftime_now`.
public struct TemplateDate: Sendable, Equatable {
    public let year: Int
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    // MARK: Calendar

    private static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                                     "September", "October", "November", "December"]
    private static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// 0 = Monday … 6 = Sunday (proleptic Gregorian calendar).
    var weekday: Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let daysSinceEpoch = era * 146_097 + dayOfEra - 719_468
        return ((daysSinceEpoch % 7) + 7 + 3) % 7
    }

    var dayOfYear: Int {
        let isLeap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let monthLengths = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return monthLengths.prefix(month - 1).reduce(0, +) + day
    }

    // MARK: strftime

    struct UnsupportedDirective: Error {
        let directive: String
    }

    /// C `strftime` in the C locale for the common directives (`%d %b %Y`, `%B`, `%A`, `%H:%M`, glibc's `%-d`).
    func formatted(_ format: String) throws(UnsupportedDirective) -> String {
        var result = ""
        var scalars = format.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            guard scalar == "%" else {
                result.unicodeScalars.append(scalar)
                continue
            }
            guard var directive = scalars.next() else { throw UnsupportedDirective(directive: "") }
            var padded = true
            if directive == "-" {
                padded = false
                guard let next = scalars.next() else { throw UnsupportedDirective(directive: "-") }
                directive = next
            }
            func number(_ value: Int, _ width: Int) -> String {
                let digits = String(value)
                return padded ? String(repeating: "0", count: max(0, width - digits.count)) + digits : digits
            }
            switch directive {
            case "d": result += number(day, 2)
            case "m": result += number(month, 2)
            case "Y": result += String(year)
            case "y": result += number(year % 100, 2)
            case "H": result += number(hour, 2)
            case "I": result += number(hour % 12 == 0 ? 12 : hour % 12, 2)
            case "M": result += number(minute, 2)
            case "S": result += number(second, 2)
            case "j": result += number(dayOfYear, 3)
            case "p": result += hour < 12 ? "AM" : "PM"
            case "B": result += Self.monthNames[month - 1]
            case "b", "h": result += String(Self.monthNames[month - 1].prefix(3))
            case "A": result += Self.weekdayNames[weekday]
            case "a": result += String(Self.weekdayNames[weekday].prefix(3))
            case "%": result += "%"
            default: throw UnsupportedDirective(directive: (padded ? "" : "-") + String(directive))
            }
        }
        return result
    }
}
