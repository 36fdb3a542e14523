package sandbox

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// spareNetworks is how many network namespaces the namespaces mode keeps ready (uid held, slirp4netns
// up, routes blocked), so that a run starts without waiting for one: making one takes tens of
// milliseconds of processes (ip, slirp4netns).
const spareNetworks = 2

// network is a uid and the network namespace named after it, ready for a run.
type network struct {
	uid *uidLease
	net *netns
}

func (n *network) close() error { return errors.Join(n.net.close(), n.uid.release()) }

// newNetwork takes a uid and makes its network namespace.
func (s *Sandbox) newNetwork(ctx context.Context) (*network, error) {
	uid, err := s.uids.acquire()
	if err != nil {
		return nil, err
	}
	n, err := newNetns(ctx, s.tools, "gitops-"+strconv.Itoa(uid.id))
	if err != nil {
		return nil, errors.Join(err, uid.release())
	}
	return &network{uid: uid, net: n}, nil
}

// network hands out a ready network, or makes one when none is.
func (s *Sandbox) network(ctx context.Context) (*network, error) {
	select {
	case n := <-s.spare:
		return n, nil
	default:
		return s.newNetwork(ctx)
	}
}

// keepSpares keeps spareNetworks networks ready until Close.
func (s *Sandbox) keepSpares() {
	defer close(s.sparesDone)
	for {
		n, err := s.newNetwork(context.Background())
		if err != nil {
			s.log.Warn().Err(err).Msg("could not make a spare network namespace")
			select {
			case <-s.stop:
				return
			case <-time.After(time.Second):
				continue
			}
		}
		select {
		case s.spare <- n:
		case <-s.stop:
			_ = n.close()
			return
		}
	}
}

// Close stops keeping spare networks and removes them. Runs still open stay usable until their own
// Close.
func (s *Sandbox) Close() error {
	if s.stop == nil {
		return nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.sparesDone
	var errs []error
	for {
		select {
		case n := <-s.spare:
			errs = append(errs, n.close())
		default:
			return errors.Join(errs...)
		}
	}
}
