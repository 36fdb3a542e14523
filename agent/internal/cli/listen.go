package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/server"
)

// listeners are the agent's two HTTP servers: the webhook listener (GITOPS_LISTEN) that GitLab reaches,
// and the admin listener (GITOPS_ADMIN_LISTEN) for operators.
type listeners struct {
	servers []*http.Server
	errs    chan error // the first server that stops on its own
}

// listen binds both addresses before serving either, so that a bad address stops the agent at start.
func listen(s settings, d server.Deps, log *zerolog.Logger) (*listeners, error) {
	l := &listeners{errs: make(chan error, 2)}
	var lns []net.Listener
	for _, a := range []struct {
		name, addr string
		h          http.Handler
	}{{"listen", s.Listen, server.Public(d)}, {"admin", s.AdminListen, server.Admin(d)}} {
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			for _, o := range lns {
				o.Close()
			}
			return nil, fmt.Errorf("%s on %s: %w", a.name, a.addr, err)
		}
		lns = append(lns, ln)
		l.servers = append(l.servers, &http.Server{
			Handler:           a.h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
			BaseContext:       func(net.Listener) context.Context { return log.WithContext(context.Background()) },
		})
		log.Info().Str(a.name, ln.Addr().String()).Msg("listening")
	}
	for i, srv := range l.servers {
		go func() {
			if err := srv.Serve(lns[i]); !errors.Is(err, http.ErrServerClosed) {
				l.errs <- fmt.Errorf("http server: %w", err)
			}
		}()
	}
	return l, nil
}

// shutdown stops both servers, letting requests in flight finish until ctx ends.
func (l *listeners) shutdown(ctx context.Context) {
	for _, srv := range l.servers {
		_ = srv.Shutdown(ctx)
	}
}
