// ChatlessEngine: the engine of a process that serves no chat (`--role learner`): it knows the version the
// process serves, so the registry, /ready and the heartbeat report it, and refuses every request.

import Synchronization

public final class ChatlessEngine: ChatEngine {
    private let current: Mutex<ServingPolicy>

    public init(policy: ServingPolicy) { current = Mutex(policy) }

    public var policy: ServingPolicy { current.withLock { $0 } }

    public func setPolicy(_ policy: ServingPolicy) { current.withLock { $0 = policy } }

    public func submit(_ request: EngineRequest) throws(EngineError) -> EngineHandle { throw .notServing }
}
