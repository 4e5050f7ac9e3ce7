
BlogitsJ(³m(½þ¢ç¼â"¾X[/=eI¼R`
=àT¼`€>ŒsL½\Kè½