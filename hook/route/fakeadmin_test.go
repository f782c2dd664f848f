package route

import (
	"net"
	"sync"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"
)

// fakeAdminServer serves a MySQL-protocol admin interface on 127.0.0.1
// with go-mysql's server package; handle answers each query.
type fakeAdminServer struct {
	ln       net.Listener
	user, pw string
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

// adminHandler answers COM_QUERY; everything else is refused.
type adminHandler struct {
	server.EmptyHandler
	handle func(query string) (*mysql.Result, error)
}

func (h adminHandler) HandleQuery(q string) (*mysql.Result, error) { return h.handle(q) }

func (h adminHandler) HandleStmtPrepare(string) (int, int, any, error) {
	return 0, 0, nil, mysql.NewError(mysql.ER_UNKNOWN_COM_ERROR, "prepared statements are not supported by the admin interface")
}

func startFakeAdmin(t testing.TB, serverVersion string, handle func(string) (*mysql.Result, error)) *fakeAdminServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAdminServer{ln: ln, user: "admin", pw: "s3cret", conns: map[net.Conn]bool{}}
	srv := server.NewServer(serverVersion, mysql.DEFAULT_COLLATION_ID, mysql.AUTH_NATIVE_PASSWORD, nil, nil)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns[c] = true
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(srv, c, adminHandler{handle: handle})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeAdminServer) serve(srv *server.Server, c net.Conn, h server.Handler) {
	defer c.Close()
	conn, err := srv.NewConn(c, f.user, f.pw, h)
	if err != nil {
		return // failed handshake: the client got the error
	}
	for !conn.Closed() {
		if err := conn.HandleCommand(); err != nil {
			return
		}
	}
}

func (f *fakeAdminServer) addr() string { return f.ln.Addr().String() }

// resultset builds a text result set; a command's answer is an empty one
// with a single "status" column, as DBProxy's admin.lua sends.
func resultset(names []string, rows [][]any) (*mysql.Result, error) {
	rs, err := mysql.BuildSimpleTextResultset(names, rows)
	if err != nil {
		return nil, err
	}
	return mysql.NewResult(rs), nil
}

func adminError(msg string) error { return mysql.NewError(mysql.ER_UNKNOWN_ERROR, msg) }
