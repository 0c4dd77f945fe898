// TemplateRenderer: walks the statement tree for one render, with jinja2's scoping (each loop
// iteration and macro call gets its own scope; `namespace()` objects carry values out of loops).

// MARK: - Scope

final class RenderScope {
    var variables: [String: RuntimeValue]
    let parent: RenderScope?

    init(variables: [String: RuntimeValue] = [:], parent: RenderScope?) {
        self.variables = variables
        self.parent = parent
    }

    func lookup(_ name: String) -> RuntimeValue? {
        var scope: RenderScope? = self
        while let current = scope {
            if let value = current.variables[name] { return value }
            scope = current.parent
        }
        return nil
    }
}

// MARK: - Renderer

final class TemplateRenderer {
    /// Functions every template can call, as HF's environment provides them.
    static let globalFunctions: Set<String> = ["range", "namespace", "raise_exception", "strftime_now", "dict"]

    private enum Flow { case normal, breakLoop, continueLoop }

    let rootScope: RenderScope
    var scope: RenderScope
    let now: TemplateDate?
    private var output = ""

    init(variables: [String: RuntimeValue], now: TemplateDate?) {
        rootScope = RenderScope(variables: variables, parent: nil)
        scope = rootScope
        self.now = now
    }

    func render(_ nodes: [TemplateNode]) throws(ChatTemplateError) -> String {
        output = ""
        _ = try execute(nodes)
        return output
    }

    // MARK: Statements

    private func execute(_ nodes: [TemplateNode]) throws(ChatTemplateError) -> Flow {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .output(let expression):
                output += try evaluate(expression).pythonString
            case .conditional(let branches, let otherwise):
                let flow = try execute(try chooseBranch(branches) ?? otherwise)
                if flow != .normal { return flow }
            case .loop(let loop):
                try executeLoop(loop)
            case .assignment(let target, let expression, let location):
                try assign(try evaluate(expression), to: target, at: location)
            case .capture(let name, let body):
                scope.variables[name] = .string(try renderCaptured(body, in: scope))
            case .loopControl(let control, _):
                return control == .breakLoop ? .breakLoop : .continueLoop
            case .macro(let macro):
                scope.variables[macro.name] = .callable(.macro(macro))
            }
        }
        return .normal
    }

    private func chooseBranch(_ branches: [ConditionalBranch]) throws(ChatTemplateError) -> [TemplateNode]? {
        for branch in branches {
            if try evaluate(branch.condition).isTruthy { return branch.body }
        }
        return nil
    }

    private func executeLoop(_ loop: ForLoop) throws(ChatTemplateError) {
        var items = try iterate(try evaluate(loop.iterable), at: loop.iterable.location)
        let outerScope = scope
        defer { scope = outerScope }
        if let filter = loop.filter {
            var kept: [RuntimeValue] = []
            for item in items {
                scope = RenderScope(parent: outerScope)
                try bind(item, to: loop, at: loop.location)
                if try evaluate(filter).isTruthy { kept.append(item) }
            }
            items = kept
        }
        guard !items.isEmpty else {
            scope = outerScope
            _ = try execute(loop.otherwise)
            return
        }
        let state = LoopState(items: items)
        for (position, item) in items.enumerated() {
            state.index0 = position
            scope = RenderScope(variables: ["loop": .loop(state)], parent: outerScope)
            try bind(item, to: loop, at: loop.location)
            if try execute(loop.body) == .breakLoop { break }
        }
    }

    private func bind(_ item: RuntimeValue, to loop: ForLoop, at location: TemplateSourceLocation) throws(ChatTemplateError) {
        guard loop.unpacks else {
            scope.variables[loop.targets[0]] = item
            return
        }
        for (name, value) in zip(loop.targets, try unpack(item, count: loop.targets.count, at: location)) {
            scope.variables[name] = value
        }
    }

    private func assign(_ value: RuntimeValue, to target: AssignmentTarget, at location: TemplateSourceLocation) throws(ChatTemplateError) {
        switch target {
        case .name(let name):
            scope.variables[name] = value
        case .names(let names):
            for (name, item) in zip(names, try unpack(value, count: names.count, at: location)) { scope.variables[name] = item }
        case .namespaceAttribute(let namespaceName, let attribute):
            guard case .namespace(let namespace) = scope.lookup(namespaceName) else {
                throw .runtime("cannot assign attribute on non-namespace object '\(namespaceName)'", at: location)
            }
            guard !attribute.hasPrefix("_") else { throw underscoreAttributeError(attribute, at: location) }
            namespace.attributes[attribute] = value
        }
    }

    private func unpack(_ value: RuntimeValue, count: Int, at location: TemplateSourceLocation) throws(ChatTemplateError) -> [RuntimeValue] {
        let items = try iterate(value, at: location)
        guard items.count == count else {
            let problem = items.count > count ? "too many values to unpack" : "not enough values to unpack"
            throw .runtime("\(problem) (expected \(count), got \(items.count))", at: location)
        }
        return items
    }

    /// Renders `body` in a child of `parent` and returns what it printed (block `set`, macro calls).
    func renderCaptured(_ body: [TemplateNode], in parent: RenderScope, variables: [String: RuntimeValue] = [:]) throws(ChatTemplateError) -> String {
        let savedOutput = output, savedScope = scope
        defer {
            output = savedOutput
            scope = savedScope
        }
        output = ""
        scope = RenderScope(variables: variables, parent: parent)
        _ = try execute(body)
        return output
    }

    // MARK: Iteration

    /// Python's `list(iter(value))`: list items, dict keys, string characters; Undefined is empty.
    func iterate(_ value: RuntimeValue, at location: TemplateSourceLocation) throws(ChatTemplateError) -> [RuntimeValue] {
        switch value {
        case .list(let items), .tuple(let items): return items
        case .iterator(let iterator): return try iterator.contents.get()
        case .dict(let dictionary): return dictionary.keys.map(RuntimeValue.string)
        case .string(let string): return string.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default: throw .runtime("'\(value.typeName)' object is not iterable", at: location)
        }
    }
}
