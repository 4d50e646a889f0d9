public let _stub = 0
