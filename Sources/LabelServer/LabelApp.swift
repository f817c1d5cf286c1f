import Foundation
import Hummingbird

/// The labelling web app: a page and a small JSON API, served on 127.0.0.1 only.
public enum LabelApp {
    struct LabelRequest: Decodable {
        let id: Int
        let label: String?
    }

    struct ItemsResponse: Encodable {
        struct Item: Encodable {
            let id: Int
            let name: String
            let label: String?
        }
        let total: Int
        let counts: [String: Int]
        let items: [Item]
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONEncoder().encode(value)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    public static func router(_ session: LabelSession) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: LabelPage.html)))
        }
        router.get("/api/items") { request, _ -> Response in
            let offset = max(0, request.uri.queryParameters.get("offset", as: Int.self) ?? 0)
            let limit = min(500, max(1, request.uri.queryParameters.get("limit", as: Int.self) ?? 48))
            let range = min(offset, session.items.count)..<min(offset + limit, session.items.count)
            let items = range.map { ItemsResponse.Item(id: $0, name: session.items[$0].name, label: session.label(of: $0)) }
            return try json(ItemsResponse(total: session.items.count, counts: session.counts(), items: items))
        }
        router.get("/api/image/:id") { _, context -> Response in
            let id = try context.parameters.require("id", as: Int.self)
            guard session.items.indices.contains(id) else { return Response(status: .notFound) }
            let (data, type) = try session.image(at: id)
            return Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=3600"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/api/label") { request, context -> Response in
            let body = try await request.decode(as: LabelRequest.self, context: context)
            guard session.items.indices.contains(body.id) else {
                return try json(["error": "no item \(body.id)"], status: .notFound)
            }
            do { try session.setLabel(body.label, at: body.id) } catch {
                return try json(["error": "\(error)"], status: .badRequest)
            }
            return try json(session.counts())
        }
        return router
    }

    /// Serves until the process is stopped.
    public static func run(_ session: LabelSession, port: Int, onRunning: @escaping @Sendable (Int) -> Void) async throws {
        let app = Application(
            router: router(session),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "cem-label"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? port) })
        try await app.runService()
    }
}
