// Peer baseline of spec/benchmarks.md: a Socket.IO 4.8 presence room doing the same job as the
// signaling server. "join" {room, id} -> "participantJoined" {id} to the room, then the ack with the
// ids already there; "signal" {data, type} -> "signal" {data, type, from} to the whole room (sender
// included); disconnect -> "participantLeft" {connectionId}.
// First stdout line: "socket.io listening on http://127.0.0.1:PORT".
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });
const rooms = new Map(); // room -> Map(socket.id -> member id)

io.on("connection", (socket) => {
  socket.on("join", (request, ack) => {
    if (!request || typeof request.room !== "string" || typeof request.id !== "string" || typeof ack !== "function") return;
    const members = rooms.get(request.room) || new Map();
    rooms.set(request.room, members);
    const value = Array.from(members.values(), (id) => ({ id }));
    socket.data.room = request.room;
    socket.data.id = request.id;
    socket.to(request.room).emit("participantJoined", { id: request.id });
    members.set(socket.id, request.id);
    socket.join(request.room);
    ack({ id: request.id, value });
  });
  socket.on("signal", (request) => {
    if (!socket.data.room || !request) return;
    io.to(socket.data.room).emit("signal", { data: request.data, type: request.type, from: socket.data.id });
  });
  socket.on("disconnect", () => {
    const members = rooms.get(socket.data.room);
    if (!members) return;
    members.delete(socket.id);
    socket.to(socket.data.room).emit("participantLeft", { connectionId: socket.data.id });
    if (members.size === 0) rooms.delete(socket.data.room);
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  console.log(`socket.io listening on http://127.0.0.1:${httpServer.address().port}`);
});
